"""One module per ``siaga-edge`` subcommand, each with ``add_arguments`` and ``run``.

The exit codes every command keeps (../shared/spec/cli.md): 0 success, 2 bad usage or
an invalid config, 1 anything else.
"""

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
