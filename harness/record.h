/* record: `scaleprof record`, the perf profiler on a running process (record.c). */
#ifndef SCALEPROF_RECORD_H
#define SCALEPROF_RECORD_H

/* argv[0] is "record". 0 ok, 1 refused or not written, 2 usage. */
int cmd_record(int argc, char **argv);

#endif
