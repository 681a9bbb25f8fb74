"""What the Ferry services share: settings, errors, logging, event names, URL checks."""
