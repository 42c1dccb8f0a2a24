//! Stress: 550 topology tests in one binary (pair, router, switch of 8, IPv6; 125 each, and 50
//! conditioned pairs through the process's relay), each sending real traffic. CI runs this
//! binary three times with default parallelism and three times with `--test-threads=32`; every
//! run must pass whole.

use netns_test_e2e::udp_tests;

udp_tests!("a -- b", "a", "b", 4100;
    pair_000 pair_001 pair_002 pair_003 pair_004 pair_005 pair_006 pair_007 pair_008 pair_009
    pair_010 pair_011 pair_012 pair_013 pair_014 pair_015 pair_016 pair_017 pair_018 pair_019
    pair_020 pair_021 pair_022 pair_023 pair_024 pair_025 pair_026 pair_027 pair_028 pair_029
    pair_030 pair_031 pair_032 pair_033 pair_034 pair_035 pair_036 pair_037 pair_038 pair_039
    pair_040 pair_041 pair_042 pair_043 pair_044 pair_045 pair_046 pair_047 pair_048 pair_049
    pair_050 pair_051 pair_052 pair_053 pair_054 pair_055 pair_056 pair_057 pair_058 pair_059
    pair_060 pair_061 pair_062 pair_063 pair_064 pair_065 pair_066 pair_067 pair_068 pair_069
    pair_070 pair_071 pair_072 pair_073 pair_074 pair_075 pair_076 pair_077 pair_078 pair_079
    pair_080 pair_081 pair_082 pair_083 pair_084 pair_085 pair_086 pair_087 pair_088 pair_089
    pair_090 pair_091 pair_092 pair_093 pair_094 pair_095 pair_096 pair_097 pair_098 pair_099
    pair_100 pair_101 pair_102 pair_103 pair_104 pair_105 pair_106 pair_107 pair_108 pair_109
    pair_110 pair_111 pair_112 pair_113 pair_114 pair_115 pair_116 pair_117 pair_118 pair_119
    pair_120 pair_121 pair_122 pair_123 pair_124
);

udp_tests!("node r forward\nh1 203.0.113.10/24 -- r 203.0.113.1/24\nr 198.51.100.1/24 -- h2 198.51.100.10/24\nroute h1 default via 203.0.113.1\nroute h2 default via 198.51.100.1", "h1", "h2", 4100;
    router_000 router_001 router_002 router_003 router_004 router_005 router_006 router_007
    router_008 router_009 router_010 router_011 router_012 router_013 router_014 router_015
    router_016 router_017 router_018 router_019 router_020 router_021 router_022 router_023
    router_024 router_025 router_026 router_027 router_028 router_029 router_030 router_031
    router_032 router_033 router_034 router_035 router_036 router_037 router_038 router_039
    router_040 router_041 router_042 router_043 router_044 router_045 router_046 router_047
    router_048 router_049 router_050 router_051 router_052 router_053 router_054 router_055
    router_056 router_057 router_058 router_059 router_060 router_061 router_062 router_063
    router_064 router_065 router_066 router_067 router_068 router_069 router_070 router_071
    router_072 router_073 router_074 router_075 router_076 router_077 router_078 router_079
    router_080 router_081 router_082 router_083 router_084 router_085 router_086 router_087
    router_088 router_089 router_090 router_091 router_092 router_093 router_094 router_095
    router_096 router_097 router_098 router_099 router_100 router_101 router_102 router_103
    router_104 router_105 router_106 router_107 router_108 router_109 router_110 router_111
    router_112 router_113 router_114 router_115 router_116 router_117 router_118 router_119
    router_120 router_121 router_122 router_123 router_124
);

udp_tests!("switch s\nh1 -- s\nh2 -- s\nh3 -- s\nh4 -- s\nh5 -- s\nh6 -- s\nh7 -- s\nh8 -- s", "h1", "h8", 4100;
    lan8_000 lan8_001 lan8_002 lan8_003 lan8_004 lan8_005 lan8_006 lan8_007 lan8_008 lan8_009
    lan8_010 lan8_011 lan8_012 lan8_013 lan8_014 lan8_015 lan8_016 lan8_017 lan8_018 lan8_019
    lan8_020 lan8_021 lan8_022 lan8_023 lan8_024 lan8_025 lan8_026 lan8_027 lan8_028 lan8_029
    lan8_030 lan8_031 lan8_032 lan8_033 lan8_034 lan8_035 lan8_036 lan8_037 lan8_038 lan8_039
    lan8_040 lan8_041 lan8_042 lan8_043 lan8_044 lan8_045 lan8_046 lan8_047 lan8_048 lan8_049
    lan8_050 lan8_051 lan8_052 lan8_053 lan8_054 lan8_055 lan8_056 lan8_057 lan8_058 lan8_059
    lan8_060 lan8_061 lan8_062 lan8_063 lan8_064 lan8_065 lan8_066 lan8_067 lan8_068 lan8_069
    lan8_070 lan8_071 lan8_072 lan8_073 lan8_074 lan8_075 lan8_076 lan8_077 lan8_078 lan8_079
    lan8_080 lan8_081 lan8_082 lan8_083 lan8_084 lan8_085 lan8_086 lan8_087 lan8_088 lan8_089
    lan8_090 lan8_091 lan8_092 lan8_093 lan8_094 lan8_095 lan8_096 lan8_097 lan8_098 lan8_099
    lan8_100 lan8_101 lan8_102 lan8_103 lan8_104 lan8_105 lan8_106 lan8_107 lan8_108 lan8_109
    lan8_110 lan8_111 lan8_112 lan8_113 lan8_114 lan8_115 lan8_116 lan8_117 lan8_118 lan8_119
    lan8_120 lan8_121 lan8_122 lan8_123 lan8_124
);

udp_tests!("a 2001:db8::1/64 -- b 2001:db8::2/64", "a", "b", 4100;
    ipv6_000 ipv6_001 ipv6_002 ipv6_003 ipv6_004 ipv6_005 ipv6_006 ipv6_007 ipv6_008 ipv6_009
    ipv6_010 ipv6_011 ipv6_012 ipv6_013 ipv6_014 ipv6_015 ipv6_016 ipv6_017 ipv6_018 ipv6_019
    ipv6_020 ipv6_021 ipv6_022 ipv6_023 ipv6_024 ipv6_025 ipv6_026 ipv6_027 ipv6_028 ipv6_029
    ipv6_030 ipv6_031 ipv6_032 ipv6_033 ipv6_034 ipv6_035 ipv6_036 ipv6_037 ipv6_038 ipv6_039
    ipv6_040 ipv6_041 ipv6_042 ipv6_043 ipv6_044 ipv6_045 ipv6_046 ipv6_047 ipv6_048 ipv6_049
    ipv6_050 ipv6_051 ipv6_052 ipv6_053 ipv6_054 ipv6_055 ipv6_056 ipv6_057 ipv6_058 ipv6_059
    ipv6_060 ipv6_061 ipv6_062 ipv6_063 ipv6_064 ipv6_065 ipv6_066 ipv6_067 ipv6_068 ipv6_069
    ipv6_070 ipv6_071 ipv6_072 ipv6_073 ipv6_074 ipv6_075 ipv6_076 ipv6_077 ipv6_078 ipv6_079
    ipv6_080 ipv6_081 ipv6_082 ipv6_083 ipv6_084 ipv6_085 ipv6_086 ipv6_087 ipv6_088 ipv6_089
    ipv6_090 ipv6_091 ipv6_092 ipv6_093 ipv6_094 ipv6_095 ipv6_096 ipv6_097 ipv6_098 ipv6_099
    ipv6_100 ipv6_101 ipv6_102 ipv6_103 ipv6_104 ipv6_105 ipv6_106 ipv6_107 ipv6_108 ipv6_109
    ipv6_110 ipv6_111 ipv6_112 ipv6_113 ipv6_114 ipv6_115 ipv6_116 ipv6_117 ipv6_118 ipv6_119
    ipv6_120 ipv6_121 ipv6_122 ipv6_123 ipv6_124
);

udp_tests!("a -- b delay=1ms jitter=1ms", "a", "b", 4100;
    cond_000 cond_001 cond_002 cond_003 cond_004 cond_005 cond_006 cond_007 cond_008 cond_009
    cond_010 cond_011 cond_012 cond_013 cond_014 cond_015 cond_016 cond_017 cond_018 cond_019
    cond_020 cond_021 cond_022 cond_023 cond_024 cond_025 cond_026 cond_027 cond_028 cond_029
    cond_030 cond_031 cond_032 cond_033 cond_034 cond_035 cond_036 cond_037 cond_038 cond_039
    cond_040 cond_041 cond_042 cond_043 cond_044 cond_045 cond_046 cond_047 cond_048 cond_049
);
