"""`python -m streamer`: the same as the `streamer` command."""

from streamer.cli import main

raise SystemExit(main())
