-- A workload unlike cmd/bld/testdata/lua/workload.lua (the training
-- workload of bench/lua/pgo.sh): allocation-heavy binary trees, float
-- arithmetic (spectral norm) and string building, sized by arg[1]
-- (default 1). Prints a digest; exits 1 on a wrong answer.
local scale = tonumber(arg and arg[1]) or 1

local function tree(d)
  if d == 0 then return {} end
  return {tree(d - 1), tree(d - 1)}
end
local function check(t)
  if not t[1] then return 1 end
  return 1 + check(t[1]) + check(t[2])
end
local nodes = 0
for _ = 1, 4 * scale do nodes = nodes + check(tree(14)) end
assert(nodes == 4 * scale * (2 ^ 15 - 1))

local function A(i, j)
  local ij = i + j - 1
  return 1.0 / (ij * (ij - 1) * 0.5 + i)
end
local function Av(x, y, n)
  for i = 1, n do
    local a = 0
    for j = 1, n do a = a + x[j] * A(i, j) end
    y[i] = a
  end
end
local function Atv(x, y, n)
  for i = 1, n do
    local a = 0
    for j = 1, n do a = a + x[j] * A(j, i) end
    y[i] = a
  end
end
local n = 120 * scale
local u, v, t = {}, {}, {}
for i = 1, n do u[i] = 1 end
for _ = 1, 10 do
  Av(u, t, n); Atv(t, v, n)
  Av(v, t, n); Atv(t, u, n)
end
local vBv, vv = 0, 0
for i = 1, n do vBv = vBv + u[i] * v[i]; vv = vv + v[i] * v[i] end
local norm = math.sqrt(vBv / vv)
assert(math.abs(norm - 1.274224) < 1e-5)

local parts = {}
for i = 1, 60000 * scale do
  parts[#parts + 1] = string.format("%x:%s", i * 2654435761 % 4294967296, string.rep("ab", i % 5))
end
local s = table.concat(parts, ",")
local count = select(2, s:gsub("abab", ""))
print(string.format("nodes %d norm %.6f len %d count %d", nodes, norm, #s, count))
