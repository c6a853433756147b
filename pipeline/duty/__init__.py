"""The duty centre's side of alarms: lifecycle rules, silences, hj212 alarms."""
