import sys

from fieldtech.cli import main

sys.exit(main())
