"""The terminal calls Home Assistant: ZKTeco Attendance PUSH (ADMS, "Cloud Server")."""
