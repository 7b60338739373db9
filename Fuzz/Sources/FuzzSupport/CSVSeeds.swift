/// CSV texts the CSV harnesses start from: rows of the samples, and the shapes RFC 4180 leaves open.
public enum CSVSeeds {
    public static let texts: [String] = [
        """
        order_id,customer_id,customer_name,country,ordered_at,amount,currency,quantity,status,note,gift
        100001,1163,Søren Larsen,FR,2026-01-17T16:41:55Z,68.26,EUR,5,returned,fragile: glass,false
        100002,1374,李 Jensen,DK,2026-01-25T15:48:49Z,385.38,DKK,1,returned,,true
        100003,1050,Fatima Patel,ES,2026-01-15T00:52:57Z,450.03,EUR,2,delivered,"gift wrap, please",false

        """,
        "a,b,c\r\n1,\"x\"\"y\",3\r\n\r\n4,\"multi\nline\",6\r\n",
        "a,b\n\"unterminated,1\n2,3",
        "a,b\n1,\"closed\"tail\n\"\",\n,\n\r\r\n",
        "a;b;c\n1;2\n1;2;3;4\n;;\n",
        "\u{FEFF}id,name\n1,\\\"escaped\\\\\n2,\"in \\\" quotes\"\n",
        "id,v\n1,\u{00E9}t\u{00E9}\n2,\u{FFFD}\n3,\"\"\"\"\n",
        "x\ny\rz\r\n\"\"",
        "id,amount,when,day,flag,doc\n1,+001.50e3,2026-02-30T25:00:00Z,2026-02-29,YES,{\"a\":[1,2,{\"b\":null}]}\n",
        "id,n\n-0,9223372036854775808\n2,-9223372036854775808\n3,1e400\n4,.5\n5,5.\n",
    ]
}
