"""DRWR Studio entry point: ``python main.py`` opens the window, ``python main.py COMMAND``
runs a headless command (fit, make-scene, hull, metrics, convert); ``python main.py
--help-gui`` lists the window's options."""

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C while starting (imports): no traceback
        print("interrupted", file=sys.stderr)
        return 130


def _main(argv: list[str]) -> int:
    from app.cli import COMMANDS

    if argv and argv[0] == "--help-gui":
        from app.gui_main import build_parser as gui_parser

        gui_parser().print_help()
        return 0

    if argv and (argv[0] in COMMANDS or argv[0] in ("-h", "--help")):
        if argv[0] in ("-h", "--help"):
            from app.cli import build_parser

            build_parser().print_help()
            print("\nWithout a command: the desktop window (python main.py --demo, --scene PATH, "
                  "--help-gui).")
            return 0
        from app.cli import run_cli

        return run_cli(argv)
    from app.gui_main import run_gui

    return run_gui(argv)


if __name__ == "__main__":
    sys.exit(main())
