// dashboard client (filled below)
