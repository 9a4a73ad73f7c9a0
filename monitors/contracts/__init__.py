"""What every part agrees on: errors, findings, records, the monitor and source protocols, the message, typed values."""
