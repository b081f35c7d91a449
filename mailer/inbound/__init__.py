"""What comes back by mail (pure): bounces, emailed unsubscribes, calendar replies, the rest."""
