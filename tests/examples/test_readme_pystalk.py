"""README, "Testing your code": pystalk takes the host and port."""

import pystalk


def test_pystalk_worker(fakebean):
    client = pystalk.BeanstalkClient(fakebean.host, fakebean.port)
    client.put_job("send report")
    job = client.reserve_job(timeout=0)
    assert job.job_data == b"send report"
    client.delete_job(job.job_id)
    client.close()
