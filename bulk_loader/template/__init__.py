"""The column-mapping template: which column feeds which Kartra field, and a starter one."""
