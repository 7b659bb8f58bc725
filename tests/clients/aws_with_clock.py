"""aws-cli with a clock off by some minutes, as on a machine whose clock is wrong.

`python aws_with_clock.py MINUTES batch ...` runs aws-cli's own entry point, with botocore's
signing clock moved by MINUTES (negative: in the past).
"""

import datetime
import sys

import botocore.auth
from awscli.clidriver import main

skew = datetime.timedelta(minutes=float(sys.argv.pop(1)))
real_now = botocore.auth.get_current_datetime
botocore.auth.get_current_datetime = lambda *args, **kwargs: real_now(*args, **kwargs) + skew
sys.exit(main())
