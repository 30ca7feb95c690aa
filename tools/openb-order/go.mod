module fedsched/tools/openb-order

go 1.19
