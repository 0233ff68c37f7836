"""EV charging under quota trading over a day (S5, 001b_book.md ch. 9) in a simulation."""
