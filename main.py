"""DRWR Studio entry point: ``python main.py`` opens the window, ``python main.py COMMAND``
runs a headless command (fit, make-scene, hull, metrics, convert)."""

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from app.cli import COMMANDS

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
