"""``dasiamrt trax``: serve the tracker over the TraX protocol, as a tracker of the VOT toolkit.

A ``trackers.ini`` entry of a VOT-toolkit workspace::

    [dasiamrt]
    label = dasiamrt
    protocol = trax
    command = dasiamrt trax --model /abs/path/models/vot

The toolkit starts the command in a temporary folder: give absolute paths. Only TraX messages go to
stdout; logs go to stderr (the toolkit's log).
"""
from __future__ import annotations

import argparse
from typing import Any

from ._common import add_model_args, add_tracker_switches, make_tracker


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("trax", help="a VOT-toolkit tracker over the TraX protocol (vot test / vot evaluate)",
                              description=__doc__.replace('``', '').replace('::', ':'),
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_args(p)
    add_tracker_switches(p)
    p.add_argument("--name", default="dasiamrt", help="tracker name announced to the toolkit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..integrations.trax_server import import_trax, protocol_channel, serve

    import_trax()  # the install hint before a model is loaded
    with protocol_channel():  # model loading must not write into the protocol either
        with make_tracker(args) as tracker:
            serve(tracker, spawn=lambda: make_tracker(args), name=args.name)
    return 0
