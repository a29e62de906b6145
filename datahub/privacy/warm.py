"""Loaded by the column scanner's fork server (``multiprocessing`` ``forkserver`` preload).

Importing it builds the analyzer and reads the lexicons once, in the server, so every worker forked
from it starts with them in memory instead of spending seconds loading them itself.
"""

from __future__ import annotations

from datahub.privacy.scanner import find_entities

find_entities("市民张伟来电反映，朝阳区建国路88号3号楼，电话13812345678。")
