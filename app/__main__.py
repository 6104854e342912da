"""`python -m app` runs the mailsiren command line, the same as the `mailsiren` script."""

from app.cli import main

raise SystemExit(main())
