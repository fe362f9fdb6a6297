"""Talking to real controllers: discovery (mDNS, serial, subnet probe), transports and drivers."""
