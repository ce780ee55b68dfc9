module scaleprof.test/gosrv

go 1.19
