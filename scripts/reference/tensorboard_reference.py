#!/usr/bin/env python3
"""Reference TensorBoard event records for test/train/tensorboard.test.ts.

    /usr/bin/python3 scripts/reference/tensorboard_reference.py > test/golden/tensorboard_reference.json

Debian's python3-protobuf serialises TensorBoard's Event / Summary messages (their fields as in
tensorflow/core/util/event.proto and summary.proto, declared here through descriptor_pb2, since
TensorBoard itself is not packaged), and a bit-at-a-time CRC-32C frames them as TFRecords. Nothing
here shares code with seg's writer (src/train/tensorboard.ts).
"""
import json
import struct

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto


def build_messages():
    fd = descriptor_pb2.FileDescriptorProto(name='seg_event_reference.proto', package='tensorboard', syntax='proto3')
    value = fd.message_type.add(name='Value')
    value.field.add(name='tag', number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    value.field.add(name='simple_value', number=2, type=F.TYPE_FLOAT, label=F.LABEL_OPTIONAL, oneof_index=0)
    value.oneof_decl.add(name='value')
    summary = fd.message_type.add(name='Summary')
    summary.field.add(name='value', number=1, type=F.TYPE_MESSAGE, type_name='.tensorboard.Value', label=F.LABEL_REPEATED)
    event = fd.message_type.add(name='Event')
    event.field.add(name='wall_time', number=1, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
    event.field.add(name='step', number=2, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
    event.field.add(name='file_version', number=3, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL, oneof_index=0)
    event.field.add(name='summary', number=5, type=F.TYPE_MESSAGE, type_name='.tensorboard.Summary', label=F.LABEL_OPTIONAL, oneof_index=0)
    event.oneof_decl.add(name='what')
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    get = getattr(message_factory, 'GetMessageClass', None)
    cls = (lambda n: get(pool.FindMessageTypeByName(n))) if get else (lambda n: message_factory.MessageFactory(pool).GetPrototype(pool.FindMessageTypeByName(n)))
    return cls('tensorboard.Event'), cls('tensorboard.Summary')


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(crc):
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecord(data):
    length = struct.pack('<Q', len(data))
    return length + struct.pack('<I', masked(crc32c(length))) + data + struct.pack('<I', masked(crc32c(data)))


def main():
    assert crc32c(b'123456789') == 0xE3069283  # the CRC-32C check value
    Event, Summary = build_messages()
    cases = [
        dict(wall_time=1764900000.25, step=0, file_version='brain.Event:2'),
        dict(wall_time=1764900001.5, step=10, scalars=[['Train/loss', 0.6931], ['Train/lr', 0.001], ['Train/speed', 3.5]]),
        dict(wall_time=1764900002.125, step=300, scalars=[['Evaluate/mean_iou', 0.7713], ['Evaluate/IoU_1', 0.5642]]),
        dict(wall_time=1764900003.0, step=123456789, scalars=[['Train/bce_loss', 1e-7]]),
    ]
    for c in cases:
        e = Event(wall_time=c['wall_time'], step=c['step'])
        if 'file_version' in c:
            e.file_version = c['file_version']
        else:
            s = Summary()
            for tag, v in c['scalars']:
                s.value.add(tag=tag, simple_value=v)
            e.summary.CopyFrom(s)
        c['record_hex'] = tfrecord(e.SerializeToString()).hex()
    print(json.dumps({'source': 'scripts/reference/tensorboard_reference.py (python3-protobuf)', 'cases': cases}, indent=1))


if __name__ == '__main__':
    main()
