"""Direct SIP trunk edge: SIP over UDP, SDP offer/answer, PCMU RTP into the shared call pipeline."""
