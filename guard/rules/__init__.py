"""The assessment rules, one module per rule family, and the catalog of rule ids."""
