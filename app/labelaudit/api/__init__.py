"""HTTP only: thin routes that validate, call the store and the queue, and shape responses."""
