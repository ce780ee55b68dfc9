/* http_chunked.c: being written */
