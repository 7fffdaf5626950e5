import sys

from rr.cli import main

sys.exit(main())
