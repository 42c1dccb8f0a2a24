//! 200 pair-topology tests in one binary: the suite the benchmark times (`netns-bench`), and a
//! stress of parallel builds in every CI run. Each sends a real datagram across its own pair.

use netns_test_e2e::udp_tests;

udp_tests!("a -- b", "a", "b", 4000;
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
    pair_120 pair_121 pair_122 pair_123 pair_124 pair_125 pair_126 pair_127 pair_128 pair_129
    pair_130 pair_131 pair_132 pair_133 pair_134 pair_135 pair_136 pair_137 pair_138 pair_139
    pair_140 pair_141 pair_142 pair_143 pair_144 pair_145 pair_146 pair_147 pair_148 pair_149
    pair_150 pair_151 pair_152 pair_153 pair_154 pair_155 pair_156 pair_157 pair_158 pair_159
    pair_160 pair_161 pair_162 pair_163 pair_164 pair_165 pair_166 pair_167 pair_168 pair_169
    pair_170 pair_171 pair_172 pair_173 pair_174 pair_175 pair_176 pair_177 pair_178 pair_179
    pair_180 pair_181 pair_182 pair_183 pair_184 pair_185 pair_186 pair_187 pair_188 pair_189
    pair_190 pair_191 pair_192 pair_193 pair_194 pair_195 pair_196 pair_197 pair_198 pair_199
);
