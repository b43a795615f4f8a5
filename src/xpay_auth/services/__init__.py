"""The service's behaviour, free of HTTP and SQL: called by ``http`` and ``cli`` alike."""
