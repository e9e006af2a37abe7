// SPDX-License-Identifier: MIT
// A C++ fixture for the symbolizer tests: namespaces, templates, lambdas,
// and the standard library's deeply inlined containers and algorithms.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <numeric>
#include <string>
#include <vector>

namespace geo {
namespace detail {

template <typename T> struct Vec {
	T x, y;
	Vec operator+(const Vec &o) const { return {x + o.x, y + o.y}; }
	T dot(const Vec &o) const { return x * o.x + y * o.y; }
};

template <typename T> T sq(T v) { return v * v; }

} // namespace detail

class Shape {
public:
	virtual ~Shape() = default;
	virtual double area() const = 0;
	virtual std::string name() const = 0;
};

class Circle : public Shape {
	double r_;
public:
	explicit Circle(double r) : r_(r) {}
	double area() const override { return 3.14159 * detail::sq(r_); }
	std::string name() const override { return "circle"; }
};

class Rect : public Shape {
	double w_, h_;
public:
	Rect(double w, double h) : w_(w), h_(h) {}
	double area() const override { return w_ * h_; }
	std::string name() const override { return "rect"; }
};

template <typename T, typename F>
__attribute__((noinline)) T reduce(const std::vector<T> &v, T init, F f)
{
	for (const auto &e : v)
		init = f(init, e);
	return init;
}

} // namespace geo

namespace {

__attribute__((noinline)) std::map<std::string, int>
count_words(const std::vector<std::string> &words)
{
	std::map<std::string, int> m;
	for (const auto &w : words)
		++m[w];
	return m;
}

__attribute__((noinline)) std::vector<int> sorted_desc(std::vector<int> v)
{
	std::sort(v.begin(), v.end(), [](int a, int b) { return a > b; });
	return v;
}

} // namespace

__attribute__((noinline)) double total_area(
	const std::vector<geo::Shape *> &shapes)
{
	return std::accumulate(shapes.begin(), shapes.end(), 0.0,
			       [](double acc, const geo::Shape *s) {
				       return acc + s->area();
			       });
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? std::atoi(argv[1]) : 100;
	std::vector<int> v(n);
	std::vector<std::string> words;
	std::vector<geo::Shape *> shapes;

	std::iota(v.begin(), v.end(), 0);
	for (int i = 0; i < n; i++) {
		words.push_back(std::to_string(i % 13));
		if (i % 2)
			shapes.push_back(new geo::Circle(i));
		else
			shapes.push_back(new geo::Rect(i, i + 1));
	}
	auto s = sorted_desc(v);
	auto m = count_words(words);
	std::vector<geo::detail::Vec<double>> vs;
	for (int i = 0; i < n; i++)
		vs.push_back({double(i), double(n - i)});
	auto sum = geo::reduce(vs, geo::detail::Vec<double>{0, 0},
			       [](auto a, auto b) { return a + b; });
	std::function<int(int)> twice = [&](int x) { return 2 * x + s[0]; };
	std::printf("%d %zu %f %f %d\n", s[0], m.size(), total_area(shapes),
		    sum.dot(sum), twice(argc));
	for (auto *sh : shapes)
		delete sh;
	return argv[0][0] == 0;
}
