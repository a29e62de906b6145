"""A governed data hub for one-event-one-network (一事件一网统管) city management."""

__version__ = "0.1.0"
