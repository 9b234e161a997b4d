import sys

from ytlstm.cli import main

sys.exit(main())
