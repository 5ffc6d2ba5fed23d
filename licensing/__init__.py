"""Export-license tracking: exporters, license applications, shipments and their clocks."""
