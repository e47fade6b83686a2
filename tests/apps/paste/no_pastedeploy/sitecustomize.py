# Makes this Python look as if PasteDeploy were not installed, for the child process whose
# PYTHONPATH names this directory: PasteDeploy's nspkg .pth file registered a `paste`
# module at start-up; dropping it lets the import system find ./paste instead, which has
# no `deploy` submodule.
import sys

sys.modules.pop("paste", None)
