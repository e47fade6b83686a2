# A Gunicorn config file over app.ini: it outranks what the ini implies (logconfig) and is
# outranked by the command line.
workers = 2
logconfig = "nolog.ini"
timeout = 45
