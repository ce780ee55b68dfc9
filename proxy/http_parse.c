/* http_parse.c: being written */
