-- A workload for a Lua interpreter built by bld: it exercises the parser,
-- the VM, the garbage collector and the standard libraries, checks each
-- result, and prints a digest of what it computed. Any wrong answer is an
-- error (exit status 1).

local out = {}
local function note(fmt, ...) out[#out + 1] = string.format(fmt, ...) end

-- Integers, floats and their conversions.
assert(math.type(1) == "integer" and math.type(1.0) == "float")
assert(7 // 2 == 3 and 7 % -3 == -2 and 2^10 == 1024.0)
assert(math.maxinteger + 1 == math.mininteger)
assert(tostring(1e15) == "1e+15" and tostring(-0.0) == "-0.0")
note("ints %d %d %.3f", 3 << 4, 0xff ~ 0x0f, math.pi)

-- Tables, sorting, closures.
local t = {}
for i = 1, 2000 do t[i] = (i * 7919) % 2003 end
table.sort(t, function(a, b) return a > b end)
for i = 2, #t do assert(t[i - 1] >= t[i]) end
local function counter()
  local n = 0
  return function(k) n = n + (k or 1); return n end
end
local c = counter()
for i = 1, 100 do c(i) end
assert(c(0) == 5050)
note("sort %d %d %d", t[1], t[1000], t[2000])

-- Strings: patterns, formatting, packing, utf8.
local s = ("The quick brown fox jumps over the lazy dog"):rep(3, " ")
local words = 0
for _ in s:gmatch("%a+") do words = words + 1 end
assert(words == 27)
assert(s:gsub("o", "0"):find("f0x") ~= nil)
assert(string.format("%5.2f|%-4s|%x", 3.14159, "ab", 255) == " 3.14|ab  |ff")
local packed = string.pack("<i4 d s1", -2, 0.5, "hi")
local a, b, str = string.unpack("<i4 d s1", packed)
assert(a == -2 and b == 0.5 and str == "hi")
assert(utf8.len("héllo wörld") == 11 and utf8.char(0x48, 0x20AC) == "H€")
note("strings %d %s %d", words, s:sub(5, 9):upper(), #packed)

-- Metatables and inheritance.
local Vec = {}
Vec.__index = Vec
Vec.__add = function(p, q) return setmetatable({x = p.x + q.x, y = p.y + q.y}, Vec) end
Vec.__eq = function(p, q) return p.x == q.x and p.y == q.y end
Vec.__tostring = function(p) return "(" .. p.x .. "," .. p.y .. ")" end
function Vec.new(x, y) return setmetatable({x = x, y = y}, Vec) end
function Vec:len2() return self.x * self.x + self.y * self.y end
local v = Vec.new(1, 2) + Vec.new(3, 4)
assert(v == Vec.new(4, 6) and v:len2() == 52)
note("meta %s", tostring(v))

-- Coroutines.
local gen = coroutine.wrap(function()
  for i = 1, 10 do coroutine.yield(i * i) end
end)
local squares = 0
for _ = 1, 10 do squares = squares + gen() end
assert(squares == 385)
note("coroutines %d", squares)

-- Errors, pcall, error objects, goto.
local ok, err = pcall(function() error({code = 42}) end)
assert(not ok and err.code == 42)
ok, err = pcall(function() local x = nil; return x.field end)
assert(not ok and err:find("attempt to index"))
local n = 0
::again::
n = n + 1
if n < 5 then goto again end
assert(n == 5)
note("errors %s", tostring(ok))

-- load, string.dump and the bytecode round trip.
local f = load("local a, b = ...; return a * b + 1")
assert(f(6, 7) == 43)
local g = load(string.dump(f), "dumped", "b")
assert(g(6, 7) == 43)
note("load %d", g(10, 10))

-- The garbage collector: weak tables, finalizers, many allocations.
local weak = setmetatable({}, {__mode = "k"})
local finalized = 0
do
  for i = 1, 1000 do
    local obj = setmetatable({}, {__gc = function() finalized = finalized + 1 end})
    weak[obj] = i
  end
end
collectgarbage("collect")
collectgarbage("collect")
local left = 0
for _ in pairs(weak) do left = left + 1 end
assert(left == 0 and finalized == 1000)
local chunks = {}
for i = 1, 20000 do chunks[#chunks + 1] = tostring(i) end
local joined = table.concat(chunks, ",")
assert(#joined == 108893)
note("gc %d %d", finalized, #joined)

-- A little computation: primes by sieve, and a digest of everything.
local sieve, primes = {}, 0
for i = 2, 50000 do
  if not sieve[i] then
    primes = primes + 1
    for j = i * i, 50000, i do sieve[j] = true end
  end
end
assert(primes == 5133)
note("primes %d", primes)

local digest = 0
for _, line in ipairs(out) do
  for i = 1, #line do digest = (digest * 31 + line:byte(i)) % 2147483647 end
end
print(table.concat(out, "\n"))
print(string.format("digest %d", digest))
