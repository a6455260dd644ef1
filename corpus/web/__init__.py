"""Articles from the web: fetching pages and feeds politely and safely, extracting their main text,
and writing them into the corpus folder as article files that a rebuild reads without the network."""
