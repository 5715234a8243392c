"""Errors that mean "the user must change something": main.py prints them without a traceback."""


class UserError(Exception):
  """Base of errors whose message says what was wrong and what to do."""


class ConfigError(UserError, ValueError):
  """A config value that cannot work."""


class InputNotFoundError(UserError, FileNotFoundError):
  """A file or folder named on the command line does not exist or holds nothing usable."""
