"""Every row checked before anything is sent: its cells, the rows against each other,
and (when there is one) the Kartra account."""
