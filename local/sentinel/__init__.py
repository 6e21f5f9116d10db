"""The embedded default: emulator, local endpoint, pipeline executor and the ``sentinel`` CLI.

Importing it puts the stack's layer code on ``sys.path`` exactly as ``sam build`` lays it out
(``sentinel.layout``), so the tests, the demo and the CLI import ``anomaly_sentinel`` the way a
deployed function does.
"""

from sentinel.layout import use_build_layout

use_build_layout()
