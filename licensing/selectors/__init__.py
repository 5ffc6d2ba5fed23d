"""Reads that serve more than one caller (HackSoft's selectors): no writes happen here."""
