"""Local servers speaking the documented protocols of remote services, with fault switches.

They run on 127.0.0.1 in a thread of the test process so that the product's real HTTP code
paths (httpx, retries, rate limiting, streaming downloads) are exercised without a network.
"""
