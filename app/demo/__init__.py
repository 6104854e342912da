"""`mailsiren demo`: a throwaway mailsiren with sample sources and a feed of alert mails."""
