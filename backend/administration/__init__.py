"""Staff-side verbs that span several apps (opening a case: the case, its data key and its
conversation) and the demo seed. It sits above cases, vault and messaging, and below the
edges (inbox, worker, asgi, urls) that call it."""
