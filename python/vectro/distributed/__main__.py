"""`python -m vectro.distributed`: the vectro-dask command line."""

import sys

from . import main

sys.exit(main())
