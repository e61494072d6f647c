"""Test and bench support shipped with the product: the simulated Twilio line and call-script
helpers."""
