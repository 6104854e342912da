"""One screen per file: each area of mailsiren."""
