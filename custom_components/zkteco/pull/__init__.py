"""Home Assistant calls the terminal: the ZK "pull" protocol on port 4370, through pyzk."""
