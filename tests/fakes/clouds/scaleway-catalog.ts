/**
 * The Scaleway fake's server shape and its marketplace: one `ubuntu_noble` local image per zone,
 * compatible with the DEV1/GP1 types (`instance_local`, an l_ssd root volume).
 */
import type { FakeReply } from './http.ts';

export interface FakeScalewayServer {
  id: string;
  name: string;
  hostname: string;
  project: string;
  tags: string[];
  commercial_type: string;
  image: string;
  creation_date: string;
  state: string;
  zone: string;
  volumes: Record<string, { id: string; volume_type: string; size: number }>;
  public_ips: { id: string; address: string; family: string; dynamic: boolean; state: string }[];
  reads: number;
}

export const NOBLE_IMAGE_ID = '6b1e6f2c-8a34-4f5e-9d58-1c1f6f0b7a11';

/** `GET /marketplace/v2/local-images?image_label=&zone=`. */
export function marketplaceImages(url: URL): FakeReply {
  const label = url.searchParams.get('image_label');
  const zone = url.searchParams.get('zone') ?? 'fr-par-1';
  const images =
    label === 'ubuntu_noble'
      ? [
          {
            id: NOBLE_IMAGE_ID,
            arch: 'x86_64',
            zone,
            label,
            type: 'instance_local',
            compatible_commercial_types: ['DEV1-S', 'DEV1-M', 'DEV1-L', 'DEV1-XL', 'GP1-XS', 'GP1-S'],
          },
        ]
      : [];
  return { status: 200, json: { local_images: images, total_count: images.length } };
}
